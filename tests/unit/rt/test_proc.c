/* Tests for src/rt/proc.c and worker.c: a real master with real workers serving a fixed reply
 * (the worker's pid) on a loopback port. A crashed worker is restarted, a reload under
 * continuous connections refuses none, and SIGTERM lets an in-flight request finish before
 * the master exits 0. */
#include <criterion/criterion.h>
#include <manouche/rt.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- The worker: answers "pid N\n" to each line; "slow" lines take 600 ms. ---- */
typedef struct worker {
    mn_loop *loop;
    int listen_fd;
} worker;

static void serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[64];
    ssize_t n = mn_sock_read(fd, buf, sizeof buf, 5000);
    if (n > 0) {
        if (n >= 4 && memcmp(buf, "slow", 4) == 0)
            mn_sleep(600);
        char reply[32];
        int len = snprintf(reply, sizeof reply, "pid %d\n", (int)getpid());
        mn_sock_write_all(fd, reply, (size_t)len, 5000);
    }
    mn_sock_close(fd);
}

static void acceptor(void *arg)
{
    worker *w = arg;
    for (;;) {
        int fd = mn_sock_accept(w->listen_fd, -1);
        if (fd < 0)
            break; /* the drain closed the socket */
        mn_coro_spawn(w->loop, serve_conn, (void *)(intptr_t)fd);
    }
}

static void on_drain(void *arg)
{
    worker *w = arg;
    mn_sock_close(w->listen_fd);
    w->listen_fd = -1;
    mn_loop_stop(w->loop);
}

static int worker_main(int listen_fd, int index, void *arg)
{
    worker w = {.loop = mn_loop_new(), .listen_fd = listen_fd};
    mn_worker_on_drain(w.loop, on_drain, &w);
    mn_coro_spawn(w.loop, acceptor, &w);
    int rc = mn_loop_run(w.loop);
    mn_loop_free(w.loop);
    return rc == 0 && mn_worker_draining() ? 0 : 3;
}

static int port_pipe[2];

static void on_listening(const char *host, int port, void *arg)
{
    ssize_t n = write(port_pipe[1], &port, sizeof port);
    (void)n;
}

/* Forks a master; returns its pid and sets *port. */
static pid_t start_master(int workers, int64_t drain_ms, int *port)
{
    cr_assert_eq(pipe(port_pipe), 0);
    pid_t pid = fork();
    /* No cr_assert before the child's branch: with --full-stats even a passing assert talks to
     * the runner, and a forked child must not. */
    if (pid == 0) {
        close(port_pipe[0]);
        mn_proc_config cfg = {.host = "127.0.0.1",
                              .workers = workers,
                              .drain_timeout_ms = drain_ms,
                              .worker_main = worker_main,
                              .on_listening = on_listening};
        _exit(mn_proc_run(&cfg));
    }
    cr_assert_geq(pid, 0);
    close(port_pipe[1]);
    cr_assert_eq(read(port_pipe[0], port, sizeof *port), (ssize_t)sizeof *port);
    close(port_pipe[0]);
    return pid;
}

/* A blocking client: sends line, returns the pid in the reply or -1 on any failure. */
static int request(int port, const char *line)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int pid = -1;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        write(fd, line, strlen(line)) == (ssize_t)strlen(line)) {
        char buf[64];
        size_t got = 0;
        ssize_t n;
        while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)n;
        buf[got] = 0;
        if (sscanf(buf, "pid %d", &pid) != 1)
            pid = -1;
    }
    close(fd);
    return pid;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static bool alive(pid_t pid)
{
    return kill(pid, 0) == 0;
}

Test(proc, restarts_a_worker_killed_with_sigkill)
{
    int port;
    pid_t master = start_master(2, 3000, &port);
    int victim = request(port, "hi\n");
    cr_assert_gt(victim, 0);
    cr_assert_eq(kill(victim, SIGKILL), 0);
    /* Every request still gets an answer (a connection for the dead slot waits in its backlog
     * until the replacement accepts), and the dead pid never answers again. */
    int pids[2] = {0, 0};
    for (int i = 0; i < 60 && !(pids[0] && pids[1]); i++) {
        int pid = request(port, "hi\n");
        cr_assert_gt(pid, 0, "request %d failed after the kill", i);
        if (pid == victim) {
            usleep(5000);
            continue; /* answered before the kill landed? not possible, but be exact: */
        }
        if (!pids[0])
            pids[0] = pid;
        else if (pid != pids[0])
            pids[1] = pid;
    }
    cr_assert(pids[0] && pids[1], "expected answers from two live workers");
    cr_assert_neq(pids[0], victim);
    cr_assert_neq(pids[1], victim);
    cr_assert(!alive(victim) || waitpid(victim, NULL, WNOHANG) < 0);
    kill(master, SIGTERM);
    cr_assert_eq(wait_exit(master, 5000), 0);
}

typedef struct load {
    int port;
    atomic_bool stop;
    atomic_int ok, failed;
    int first_pid, last_pid;
} load;

static void *hammer(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        int pid = request(l->port, "hi\n");
        if (pid > 0) {
            if (!l->first_pid)
                l->first_pid = pid;
            l->last_pid = pid;
            atomic_fetch_add(&l->ok, 1);
        } else {
            atomic_fetch_add(&l->failed, 1);
        }
    }
    return NULL;
}

Test(proc, reload_under_load_refuses_no_connection)
{
    load l = {0};
    pid_t master = start_master(2, 3000, &l.port);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hammer, &l);
    usleep(200 * 1000);
    int before = atomic_load(&l.ok);
    cr_assert_eq(kill(master, SIGHUP), 0);
    usleep(500 * 1000);
    cr_assert_eq(kill(master, SIGHUP), 0); /* twice, back to back with old ones draining */
    usleep(500 * 1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    int ok = atomic_load(&l.ok), failed = atomic_load(&l.failed);
    cr_assert_eq(failed, 0, "%d of %d requests failed across the reloads", failed, ok + failed);
    cr_assert_gt(ok - before, 50, "too few requests during the reloads: %d", ok - before);
    cr_assert_neq(l.first_pid, l.last_pid, "the workers should have been replaced");
    kill(master, SIGTERM);
    cr_assert_eq(wait_exit(master, 5000), 0);
}

typedef struct slow_client {
    int port;
    int pid;
} slow_client;

static void *slow_request(void *arg)
{
    slow_client *c = arg;
    c->pid = request(c->port, "slow\n");
    return NULL;
}

Test(proc, sigterm_lets_an_in_flight_request_finish)
{
    slow_client c = {0};
    pid_t master = start_master(1, 3000, &c.port);
    cr_assert_gt(request(c.port, "warm\n"), 0);
    pthread_t th;
    pthread_create(&th, NULL, slow_request, &c);
    usleep(200 * 1000); /* the request is now sleeping inside the worker */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(kill(master, SIGTERM), 0);
    int code = wait_exit(master, 5000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(th, NULL);
    cr_assert_eq(code, 0, "master exit code %d", code);
    cr_assert_gt(c.pid, 0, "the in-flight request was cut off");
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert_lt(ms, 2500, "the drain took %ld ms, longer than the request needed", ms);
    /* And nothing listens any more. */
    cr_assert_eq(request(c.port, "late\n"), -1);
}

Test(proc, drain_deadline_kills_a_stuck_worker)
{
    /* A worker that ignores the drain: the master kills it at the deadline and still exits 0. */
    slow_client c = {0};
    pid_t master = start_master(1, 700, &c.port);
    int pid = request(c.port, "hi\n");
    cr_assert_gt(pid, 0);
    kill(pid, SIGSTOP); /* a stopped process cannot drain */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kill(master, SIGTERM);
    int code = wait_exit(master, 8000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(code, 0);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert_geq(ms, 650, "killed before the drain deadline (%ld ms)", ms);
}
