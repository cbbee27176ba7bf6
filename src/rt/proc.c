/* proc.c — the master process: binds one SO_REUSEPORT listening socket per worker slot, forks a
 * worker per slot, restarts crashed workers with backoff, drains on SIGTERM/SIGINT and replaces
 * every worker on SIGHUP.
 *
 * The idea: the master keeps every slot's socket open for its whole life, and a worker only
 * inherits it. So a socket never closes while the server runs: connections that arrive while a
 * slot's worker is being replaced wait in that socket's backlog instead of being refused, and a
 * reload can fork the new workers before it asks the old ones to drain. The master itself is a
 * small poll loop on a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP) with timeouts for restart
 * backoff and drain deadlines; it never runs application code. */
#include "rt/internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *LOGGER = "manouche.proc";

enum {
    BACKOFF_FIRST_MS = 50,
    BACKOFF_MAX_MS = 10000,
    STABLE_MS = 10000, /* a worker that lived this long resets its slot's backoff */
    DEFAULT_DRAIN_MS = 30000,
};

typedef struct slot {
    int fd;
    pid_t pid; /* 0: none running */
    int64_t started_at;
    int64_t restart_at; /* when pid == 0 and not shutting down */
    int failures;
} slot;

typedef struct old_worker {
    pid_t pid;
    int64_t kill_at;
    bool killed;
} old_worker;

typedef struct master {
    const mn_proc_config *cfg;
    slot *slots;
    int nslots;
    old_worker *old;
    int nold, capold;
    int sigfd;
    sigset_t old_mask;
    pid_t self;
    int64_t drain_ms;
    bool shutting_down;
    int64_t shutdown_kill_at;
    bool shutdown_killed;
} master;

MN_NORETURN static void run_worker(master *m, int index)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != m->self)
        _exit(0); /* the master died before we could ask to follow it */
    close(m->sigfd);
    for (int i = 0; i < m->nslots; i++)
        if (i != index && m->slots[i].fd >= 0)
            close(m->slots[i].fd);
    mn__worker_setup(m->drain_ms);
    sigprocmask(SIG_SETMASK, &m->old_mask, NULL);
    int rc = m->cfg->worker_main(m->slots[index].fd, index, m->cfg->arg);
    fflush(NULL);
    /* _exit: the atexit handlers belong to the master's program, not to this worker. */
    _exit(rc & 0xff);
}

static void spawn(master *m, int index)
{
    slot *s = &m->slots[index];
    pid_t pid = fork();
    if (pid == 0)
        run_worker(m, index);
    int64_t now = mn__clock_ms();
    if (pid < 0) {
        s->failures++;
        s->restart_at = now + BACKOFF_MAX_MS;
        mn_log(MN_LOG_ERROR, LOGGER, "cannot fork worker %d: %s; retrying in %d ms", index,
               strerror(errno), BACKOFF_MAX_MS);
        return;
    }
    s->pid = pid;
    s->started_at = now;
    s->restart_at = 0;
}

static void add_old(master *m, pid_t pid, int64_t kill_at)
{
    if (m->nold == m->capold) {
        int cap = m->capold ? m->capold * 2 : 8;
        old_worker *o = mn_realloc(m->old, (size_t)cap * sizeof *o);
        if (!o) {
            kill(pid, SIGKILL); /* cannot track it: do not leave it running */
            return;
        }
        m->old = o;
        m->capold = cap;
    }
    m->old[m->nold++] = (old_worker){.pid = pid, .kill_at = kill_at};
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, n, "stopped (status %d)", status);
}

static void on_child_exit(master *m, pid_t pid, int status)
{
    char what[96];
    describe_status(status, what, sizeof what);
    for (int i = 0; i < m->nold; i++) {
        if (m->old[i].pid == pid) {
            mn_log(MN_LOG_INFO, LOGGER, "old worker (pid %d) %s", (int)pid, what);
            m->old[i] = m->old[--m->nold];
            return;
        }
    }
    for (int i = 0; i < m->nslots; i++) {
        slot *s = &m->slots[i];
        if (s->pid != pid)
            continue;
        s->pid = 0;
        if (m->shutting_down) {
            mn_log(MN_LOG_INFO, LOGGER, "worker %d (pid %d) %s", i, (int)pid, what);
            return;
        }
        int64_t now = mn__clock_ms();
        if (now - s->started_at >= STABLE_MS)
            s->failures = 0;
        int64_t delay = BACKOFF_FIRST_MS;
        for (int f = 0; f < s->failures && delay < BACKOFF_MAX_MS; f++)
            delay *= 2;
        if (delay > BACKOFF_MAX_MS)
            delay = BACKOFF_MAX_MS;
        s->failures++;
        s->restart_at = now + delay;
        mn_log(MN_LOG_WARNING, LOGGER, "worker %d (pid %d) %s; restarting in %lld ms", i, (int)pid,
               what, (long long)delay);
        return;
    }
}

static void reap(master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        on_child_exit(m, pid, status);
}

static int children(const master *m)
{
    int n = m->nold;
    for (int i = 0; i < m->nslots; i++)
        n += m->slots[i].pid > 0;
    return n;
}

static void signal_all(master *m, int sig)
{
    for (int i = 0; i < m->nslots; i++)
        if (m->slots[i].pid > 0)
            kill(m->slots[i].pid, sig);
    for (int i = 0; i < m->nold; i++)
        kill(m->old[i].pid, sig);
}

static void begin_shutdown(master *m, int sig)
{
    if (m->shutting_down) {
        if (sig == SIGINT) {
            mn_log(MN_LOG_WARNING, LOGGER, "second interrupt: killing the workers");
            signal_all(m, SIGKILL);
            m->shutdown_killed = true;
        }
        return;
    }
    m->shutting_down = true;
    m->shutdown_kill_at = mn__clock_ms() + m->drain_ms;
    mn_log(MN_LOG_INFO, LOGGER, "%s: draining %d worker(s) (up to %lld ms)",
           sig == SIGINT ? "interrupt" : "terminate", children(m), (long long)m->drain_ms);
    /* New connections go nowhere now; the workers close their copies as they drain. */
    for (int i = 0; i < m->nslots; i++) {
        if (m->slots[i].fd >= 0)
            close(m->slots[i].fd);
        m->slots[i].fd = -1;
        m->slots[i].restart_at = 0;
    }
    signal_all(m, SIGTERM);
}

static void reload(master *m)
{
    if (m->shutting_down)
        return;
    int64_t kill_at = mn__clock_ms() + m->drain_ms;
    pid_t *olds = mn_calloc((size_t)m->nslots, sizeof *olds);
    if (!olds) {
        mn_log(MN_LOG_ERROR, LOGGER, "reload: out of memory");
        return;
    }
    mn_log(MN_LOG_INFO, LOGGER, "reload: starting %d new worker(s)", m->nslots);
    /* New workers first: they share each slot's socket with the old ones until these drain. */
    for (int i = 0; i < m->nslots; i++) {
        olds[i] = m->slots[i].pid;
        m->slots[i].pid = 0;
        m->slots[i].failures = 0;
        spawn(m, i);
    }
    for (int i = 0; i < m->nslots; i++) {
        if (olds[i] <= 0)
            continue;
        add_old(m, olds[i], kill_at);
        kill(olds[i], SIGTERM);
    }
    mn_free(olds);
}

static void handle_signals(master *m)
{
    struct signalfd_siginfo info;
    while (read(m->sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
        switch (info.ssi_signo) {
        case SIGTERM:
        case SIGINT: begin_shutdown(m, (int)info.ssi_signo); break;
        case SIGHUP: reload(m); break;
        default: /* SIGCHLD: reap() below handles every exited child at once */ break;
        }
    }
}

/* Runs due restarts and kills; returns the poll timeout to the next such event. */
static int run_deadlines(master *m)
{
    int64_t now = mn__clock_ms(), next = -1;
#define CONSIDER(at)                                                                               \
    do {                                                                                           \
        int64_t left_ = (at)-now;                                                                  \
        if (next < 0 || left_ < next)                                                              \
            next = left_ < 0 ? 0 : left_;                                                          \
    } while (0)
    for (int i = 0; i < m->nslots && !m->shutting_down; i++) {
        slot *s = &m->slots[i];
        if (s->pid > 0 || !s->restart_at)
            continue;
        if (s->restart_at <= now)
            spawn(m, i);
        else
            CONSIDER(s->restart_at);
    }
    for (int i = 0; i < m->nold; i++) {
        old_worker *o = &m->old[i];
        if (o->killed)
            continue;
        if (o->kill_at <= now) {
            mn_log(MN_LOG_WARNING, LOGGER, "old worker (pid %d) did not drain in time; killing",
                   (int)o->pid);
            kill(o->pid, SIGKILL);
            o->killed = true;
        } else {
            CONSIDER(o->kill_at);
        }
    }
    if (m->shutting_down && !m->shutdown_killed) {
        if (m->shutdown_kill_at <= now) {
            mn_log(MN_LOG_WARNING, LOGGER, "workers did not drain in %lld ms; killing",
                   (long long)m->drain_ms);
            signal_all(m, SIGKILL);
            m->shutdown_killed = true;
        } else {
            CONSIDER(m->shutdown_kill_at);
        }
    }
#undef CONSIDER
    return next < 0 ? -1 : next > 60000 ? 60000 : (int)next;
}

static int listen_failed(const mn_proc_config *cfg, int port, int rc)
{
    mn_log(MN_LOG_ERROR, LOGGER, "cannot listen on %s:%d: %s", cfg->host ? cfg->host : "*", port,
           rc == MN_EIO && errno ? strerror(errno) : mn_strerror(rc));
    return rc;
}

/* SO_REUSEPORT lets any process of the same user join a port, so a second master started on
 * an address another one serves would bind too and take half of its connections. A socket
 * without the option cannot share the port with anyone: if it can listen, nobody else is
 * there, and the master's own slots (opened right after it closes) are the only ones. New
 * workers after SIGHUP inherit these slots, so a reload never binds again. */
static int port_is_free(const mn_proc_config *cfg)
{
    errno = 0;
    int fd = mn_tcp_listen(cfg->host, cfg->port, 1, false);
    if (fd < 0)
        return listen_failed(cfg, cfg->port, fd);
    close(fd);
    return MN_OK;
}

static int bind_slots(master *m, const mn_proc_config *cfg, int *port)
{
    *port = cfg->port;
    int rc = cfg->port ? port_is_free(cfg) : MN_OK; /* port 0: the kernel picks a free one */
    if (rc != MN_OK)
        return rc;
    for (int i = 0; i < m->nslots; i++) {
        errno = 0;
        int fd = mn_tcp_listen(cfg->host, *port, cfg->backlog, true);
        if (fd < 0)
            return listen_failed(cfg, *port, fd);
        m->slots[i].fd = fd;
        if (*port == 0)
            *port = mn_sock_port(fd); /* the other slots join the port the first one got */
    }
    return MN_OK;
}

int mn_proc_run(const mn_proc_config *cfg)
{
    if (!cfg || !cfg->worker_main)
        return 2;
    master m = {.cfg = cfg, .sigfd = -1, .self = getpid()};
    m.nslots = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (m.nslots < 1)
        m.nslots = 1;
    m.drain_ms = cfg->drain_timeout_ms > 0 ? cfg->drain_timeout_ms : DEFAULT_DRAIN_MS;
    m.slots = mn_calloc((size_t)m.nslots, sizeof *m.slots);
    if (!m.slots)
        return 1;
    for (int i = 0; i < m.nslots; i++)
        m.slots[i].fd = -1;
    int exit_code = 1, port = 0;
    if (bind_slots(&m, cfg, &port) != MN_OK)
        goto out;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &m.old_mask);
    /* The master only writes log lines: a closed stderr pipe must not kill it. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ignore, &old_pipe);
    m.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m.sigfd < 0) {
        mn_log(MN_LOG_ERROR, LOGGER, "signalfd: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &m.old_mask, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
        goto out;
    }
    if (cfg->on_listening)
        cfg->on_listening(cfg->host ? cfg->host : "0.0.0.0", port, cfg->arg);
    mn_log(MN_LOG_INFO, LOGGER, "master (pid %d) starting %d worker(s) on %s:%d", (int)m.self,
           m.nslots, cfg->host ? cfg->host : "*", port);
    for (int i = 0; i < m.nslots; i++)
        spawn(&m, i);

    for (;;) {
        reap(&m);
        int timeout = run_deadlines(&m);
        if (m.shutting_down && children(&m) == 0)
            break;
        struct pollfd p = {.fd = m.sigfd, .events = POLLIN};
        if (poll(&p, 1, timeout) > 0)
            handle_signals(&m);
    }
    mn_log(MN_LOG_INFO, LOGGER, "master (pid %d) stopped", (int)m.self);
    exit_code = 0;
    /* Consume what arrived meanwhile (a second SIGTERM, say): unblocked, it would kill us. */
    handle_signals(&m);
    close(m.sigfd);
    sigprocmask(SIG_SETMASK, &m.old_mask, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
out:
    for (int i = 0; i < m.nslots; i++)
        if (m.slots[i].fd >= 0)
            close(m.slots[i].fd);
    mn_free(m.slots);
    mn_free(m.old);
    return exit_code;
}
