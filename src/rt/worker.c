/* worker.c — the worker process's side of draining: SIGTERM/SIGINT set a flag and write a byte
 * to a self-pipe that every loop of the worker watches; the loop then runs the callbacks that
 * the layers above registered with mn_worker_on_drain (stop accepting, close idle
 * connections, stop the loop once in-flight requests are done).
 *
 * The pipe is never read: each loop gets its own edge from the one write, and later loops see
 * the flag. proc.c calls mn__worker_setup() in a freshly forked worker. */
#include "rt/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int drain_pipe[2] = {-1, -1};
static volatile sig_atomic_t draining;
static unsigned drain_alarm_s;

int mn__worker_drain_fd(void)
{
    return drain_pipe[0];
}

bool mn_worker_draining(void)
{
    return draining != 0;
}

static void on_drain_signal(int sig)
{
    (void)sig;
    int saved = errno;
    if (!draining) {
        draining = 1;
        ssize_t w = write(drain_pipe[1], "d", 1);
        (void)w;
        /* If the master is gone nobody enforces the drain deadline: do it ourselves. */
        if (drain_alarm_s)
            alarm(drain_alarm_s);
    }
    errno = saved;
}

void mn__worker_setup(int64_t drain_timeout_ms)
{
    if (pipe2(drain_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        drain_pipe[0] = drain_pipe[1] = -1;
    drain_alarm_s = (unsigned)((drain_timeout_ms > 0 ? drain_timeout_ms : 0) / 1000 + 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_drain_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
}

void mn__loop_run_drain(mn_loop *loop)
{
    if (loop->drain_done || !draining)
        return;
    loop->drain_done = true;
    for (size_t i = 0; i < loop->ndrain_cbs; i++)
        loop->drain_cbs[i].fn(loop->drain_cbs[i].arg);
}

void mn_worker_on_drain(mn_loop *loop, void (*fn)(void *arg), void *arg)
{
    if (!loop || !fn)
        return;
    if (loop->drain_done) {
        fn(arg); /* the drain has begun already */
        return;
    }
    mn__drain_cb *cbs = mn_realloc(loop->drain_cbs, (loop->ndrain_cbs + 1) * sizeof *cbs);
    if (!cbs)
        return;
    cbs[loop->ndrain_cbs++] = (mn__drain_cb){fn, arg};
    loop->drain_cbs = cbs;
    /* A drain requested before this loop existed still runs these: the pipe keeps its byte,
     * so registering it gave the loop an event for its first iteration. */
}
