/* serve.c — `runserver` (development: this process serves, DEBUG on by default) and `serve`
 * (production: mn_proc_run's master keeps WORKERS worker processes; SIGTERM drains, SIGHUP
 * replaces the workers). The site is built once before any socket is bound, so a broken
 * project stops with its one-line error instead of crash-looping workers; workers inherit it
 * through fork. */
#include "cli/internal.h"

#include <manouche/rt.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

typedef struct serve_ctx {
    mn_site *site;
    mn_server_config cfg;
    char proxies[1024];
    mn_server *server;
    mn_loop *loop;
    int sigfd; /* runserver: SIGTERM/SIGINT arrive here; -1 under the master */
    int workers;
    bool dev;
} serve_ctx;

static void drained(void *arg)
{
    mn_loop_stop(arg);
}

static void on_drain(void *arg)
{
    serve_ctx *s = arg;
    mn_server_drain(s->server, drained, s->loop);
}

static void watch_signals(void *arg)
{
    serve_ctx *s = arg;
    if (mn_wait_fd(s->sigfd, MN_READ, -1) != MN_OK)
        return;
    struct signalfd_siginfo si;
    if (read(s->sigfd, &si, sizeof si) > 0)
        mn_server_drain(s->server, drained, s->loop);
}

static int run_loop(int listen_fd, serve_ctx *s)
{
    s->loop = mn_loop_new();
    if (!s->loop)
        return 1;
    s->server = mn_server_start(s->loop, listen_fd, &s->cfg);
    if (!s->server) {
        mn_log(MN_LOG_ERROR, "manouche.server", "cannot start the server");
        mn_loop_free(s->loop);
        return 1;
    }
    if (s->sigfd >= 0)
        mn_coro_spawn(s->loop, watch_signals, s);
    else
        mn_worker_on_drain(s->loop, on_drain, s);
    int rc = mn_loop_run(s->loop);
    mn_server_free(s->server);
    mn_loop_free(s->loop);
    return rc == 0 ? 0 : 1;
}

static int worker_main(int listen_fd, int index, void *arg)
{
    (void)index;
    return run_loop(listen_fd, arg);
}

static void on_listening(const char *host, int port, void *arg)
{
    serve_ctx *s = arg;
    bool v6 = strchr(host, ':') != NULL;
    if (s->dev)
        printf("Starting development server at http://%s%s%s:%d/\n"
               "Quit the server with CONTROL-C.\n",
               v6 ? "[" : "", host, v6 ? "]" : "", port);
    else
        printf("Serving on http://%s%s%s:%d/ with %d worker%s\n", v6 ? "[" : "", host,
               v6 ? "]" : "", port, s->workers, s->workers == 1 ? "" : "s");
    fflush(stdout);
}

static int prepare(mn_cli *cli, serve_ctx *s)
{
    s->site = mn_cli_site(cli);
    if (!s->site)
        return MN_EXIT_FAILURE;
    const mn_settings *st = mn_cli_settings(cli);
    s->cfg.handler = mn_site_handle;
    s->cfg.arg = s->site;
    mn_site_http_limits(s->site, &s->cfg.limits);
    size_t n;
    const char *const *proxies = mn_settings_list(st, "TRUSTED_PROXIES", &n);
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof s->proxies; i++)
        used += (size_t)snprintf(s->proxies + used, sizeof s->proxies - used, "%s%s", i ? "," : "",
                                 proxies[i]);
    s->cfg.trusted_proxies = n ? s->proxies : NULL;
    s->cfg.cookie_secure = mn_settings_bool(st, "COOKIE_SECURE");
    s->sigfd = -1;
    return 0;
}

/* Parses the optional address argument; flags are left to the caller. */
static int parse_addr_arg(mn_cli *cli, const char *arg, const char *default_host, char *host,
                          size_t cap, int *port)
{
    int default_port = (int)mn_settings_int(mn_cli_settings(cli), "PORT");
    if (mn_cli_parse_addr(arg, default_host, default_port, host, cap, port) != 0)
        return mn_cli_usage_error(cli, "'%s' is not a valid port number or address:port pair", arg);
    return 0;
}

int mn__cmd_runserver(mn_cli *cli, int argc, char **argv)
{
    const char *addr = NULL;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return mn_cli_usage_error(cli, "unknown option '%s'", argv[i]);
        if (addr)
            return mn_cli_usage_error(cli, "unexpected argument '%s'", argv[i]);
        addr = argv[i];
    }
    char host[256];
    int port, rc;
    if ((rc = parse_addr_arg(cli, addr, "127.0.0.1", host, sizeof host, &port)) != 0)
        return rc;
    serve_ctx s;
    memset(&s, 0, sizeof s);
    if ((rc = prepare(cli, &s)) != 0)
        return rc;
    s.dev = true;
    s.workers = 1;
    errno = 0;
    int fd = mn_tcp_listen(host, port, 1024, false);
    if (fd < 0)
        return mn_cli_fail(cli, "cannot listen on %s:%d: %s", host, port,
                           fd == MN_EIO && errno ? strerror(errno) : mn_strerror(fd));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    on_listening(host, mn_sock_port(fd), &s);
    rc = run_loop(fd, &s);
    mn_sock_close(s.sigfd);
    mn_sock_close(fd);
    return rc;
}

int mn__cmd_serve(mn_cli *cli, int argc, char **argv)
{
    mn_settings *st = mn_cli_settings(cli);
    const char *addr = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        if (strcmp(a, "--workers") == 0) {
            if (i + 1 >= argc)
                return mn_cli_usage_error(cli, "--workers needs a number");
            value = argv[++i];
        } else if (strncmp(a, "--workers=", 10) == 0) {
            value = a + 10;
        } else if (a[0] == '-' && a[1]) {
            return mn_cli_usage_error(cli, "unknown option '%s'", a);
        } else if (addr) {
            return mn_cli_usage_error(cli, "unexpected argument '%s'", a);
        } else {
            addr = a;
            continue;
        }
        if (mn_settings_set(st, "WORKERS", value) != 0)
            return mn_cli_usage_error(cli, "--workers: '%s' is not an integer >= 1", value);
    }
    char host[256];
    int port, rc;
    if ((rc = parse_addr_arg(cli, addr, "0.0.0.0", host, sizeof host, &port)) != 0)
        return rc;
    serve_ctx s;
    memset(&s, 0, sizeof s);
    if ((rc = prepare(cli, &s)) != 0)
        return rc;
    s.workers = (int)mn_settings_int(st, "WORKERS");
    /* Refuse an address another process serves, with runserver's words, before any worker
     * starts: the master's SO_REUSEPORT sockets would otherwise share it (mn_proc_run checks
     * too, for programs that call it directly). */
    errno = 0;
    int probe = port ? mn_tcp_listen(host, port, 1, false) : MN_OK;
    if (probe < 0)
        return mn_cli_fail(cli, "cannot listen on %s:%d: %s", host, port,
                           probe == MN_EIO && errno ? strerror(errno) : mn_strerror(probe));
    if (port)
        close(probe);
    mn_proc_config pc = {
        .host = host,
        .port = port,
        .workers = s.workers,
        .backlog = 4096,
        .drain_timeout_ms = mn_settings_int(st, "DRAIN_TIMEOUT_MS"),
        .worker_main = worker_main,
        .arg = &s,
        .on_listening = on_listening,
    };
    return mn_proc_run(&pc);
}
