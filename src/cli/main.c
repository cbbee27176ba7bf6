/* main.c — mn_main(): the project binary as its management CLI (Django's manage.py).
 *
 * Order of work: find the command (app commands first, so an app may replace a built-in),
 * answer --help without touching anything else, load the settings (a wrong value is one line
 * on stderr and exit 1), then run the command. The site (routes, templates, middleware) is
 * built only by commands that need it, so `help` works even in a broken project. */
#include "cli/internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mn_cli {
    const mn_project *project;
    const char *prog;
    const mn_command *command;
    mn_settings *settings;
    mn_site *site;
    bool site_failed;
};

static const mn_command builtin_commands[] = {
    {"check", "Checks the settings, URL patterns and templates for problems.",
     "[--deploy] [--fail-level LEVEL]", mn__cmd_check, false},
    {"collectstatic",
     "Copies the static files into STATIC_ROOT with hashed names and a "
     "manifest.",
     "[--noinput] [--clear]", mn__cmd_collectstatic, false},
    {"help", "Lists the commands, or shows how to use one.", "[command]", NULL, false},
    {"runserver", "Starts a development server (one process, DEBUG on unless set).", "[addr:port]",
     mn__cmd_runserver, false},
    {"serve",
     "Starts the production server: a master and worker processes (DEBUG off "
     "unless set).",
     "[addr:port] [--workers N]", mn__cmd_serve, true},
    {"settings", "Shows every setting, its value (secrets masked) and where it came from.",
     "[--changed]", mn__cmd_settings, false},
    {"urls", "Lists the URL patterns with their names and methods.", "", mn__cmd_urls, false},
    {NULL, NULL, NULL, NULL, false},
};

const mn_project *mn_cli_project(mn_cli *cli)
{
    return cli->project;
}

mn_settings *mn_cli_settings(mn_cli *cli)
{
    return cli->settings;
}

const char *mn_cli_prog(mn_cli *cli)
{
    return cli->prog;
}

static int vreport(mn_cli *cli, int code, const char *fmt, va_list ap) MN_PRINTF(3, 0);
static int vreport(mn_cli *cli, int code, const char *fmt, va_list ap)
{
    fflush(stdout);
    if (cli->command)
        fprintf(stderr, "%s %s: ", cli->prog, cli->command->name);
    else
        fprintf(stderr, "%s: ", cli->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int mn_cli_fail(mn_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(cli, MN_EXIT_FAILURE, fmt, ap);
    va_end(ap);
    return rc;
}

int mn_cli_usage_error(mn_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(cli, MN_EXIT_USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

mn_site *mn_cli_site(mn_cli *cli)
{
    if (cli->site || cli->site_failed)
        return cli->site;
    char err[1024];
    cli->site = mn_site_new(cli->project, cli->settings, err, sizeof err);
    if (!cli->site) {
        cli->site_failed = true;
        mn_cli_fail(cli, "%s", err[0] ? err : "cannot build the site");
    }
    return cli->site;
}

int mn_cli_parse_addr(const char *arg, const char *default_host, int default_port, char *host,
                      size_t cap, int *port)
{
    snprintf(host, cap, "%s", default_host);
    *port = default_port;
    if (!arg || !*arg)
        return 0;
    const char *port_text = NULL;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close == arg + 1 || (close[1] && close[1] != ':'))
            return MN_EINVAL;
        snprintf(host, cap, "%.*s", (int)(close - arg - 1), arg + 1);
        port_text = close[1] ? close + 2 : NULL;
    } else if (strspn(arg, "0123456789") == strlen(arg)) {
        port_text = arg;
    } else {
        const char *colon = strrchr(arg, ':');
        if (colon && strchr(arg, ':') != colon)
            return MN_EINVAL; /* a bare IPv6 address must be bracketed */
        size_t hl = colon ? (size_t)(colon - arg) : strlen(arg);
        if (hl == 0 || hl >= cap)
            return MN_EINVAL;
        /* Django's shorthand: "0:8000" is every IPv4 address, and is shown as such. */
        if (hl == 1 && arg[0] == '0')
            snprintf(host, cap, "0.0.0.0");
        else
            snprintf(host, cap, "%.*s", (int)hl, arg);
        port_text = colon ? colon + 1 : NULL;
    }
    if (port_text) {
        int64_t p;
        if (mn_str_to_i64(mn_str_from(port_text), &p) != 0 || p < 0 || p > 65535)
            return MN_EINVAL;
        *port = (int)p;
    }
    return 0;
}

/* ---- Commands. ---- */

static const mn_command *find_command(const mn_project *p, const char *name, const char **app)
{
    for (size_t i = 0; p->apps && p->apps[i]; i++) {
        const mn_command *cmds = p->apps[i]->commands;
        for (size_t j = 0; cmds && cmds[j].name; j++)
            if (strcmp(cmds[j].name, name) == 0) {
                if (app)
                    *app = p->apps[i]->name;
                return &cmds[j];
            }
    }
    for (size_t j = 0; builtin_commands[j].name; j++)
        if (strcmp(builtin_commands[j].name, name) == 0) {
            if (app)
                *app = "manouche";
            return &builtin_commands[j];
        }
    return NULL;
}

static void print_usage(const char *prog, const mn_command *c)
{
    printf("usage: %s %s%s%s\n\n%s\n", prog, c->name, c->usage && *c->usage ? " " : "",
           c->usage ? c->usage : "", c->help ? c->help : "");
    if (strcmp(c->name, "runserver") == 0 || strcmp(c->name, "serve") == 0)
        printf("\nThe address defaults to %s:$PORT (PORT=8000). Settings come from the "
               "environment and .env.\n",
               strcmp(c->name, "serve") == 0 ? "0.0.0.0" : "127.0.0.1");
}

static void print_list(const char *prog, const mn_project *p)
{
    printf("Type '%s help <subcommand>' for help on a specific subcommand.\n\n"
           "Available subcommands:\n\n[manouche]\n",
           prog);
    for (size_t j = 0; builtin_commands[j].name; j++)
        printf("    %-14s %s\n", builtin_commands[j].name, builtin_commands[j].help);
    for (size_t i = 0; p->apps && p->apps[i]; i++) {
        const mn_command *cmds = p->apps[i]->commands;
        if (!cmds || !cmds[0].name)
            continue;
        printf("\n[%s]\n", p->apps[i]->name);
        for (size_t j = 0; cmds[j].name; j++)
            printf("    %-14s %s\n", cmds[j].name, cmds[j].help ? cmds[j].help : "");
    }
}

static int help(mn_cli *cli, int argc, char **argv)
{
    if (argc == 0) {
        print_list(cli->prog, cli->project);
        return MN_EXIT_OK;
    }
    const mn_command *c = find_command(cli->project, argv[0], NULL);
    if (!c) {
        cli->command = NULL;
        return mn_cli_usage_error(cli, "unknown command '%s' (see '%s help')", argv[0], cli->prog);
    }
    print_usage(cli->prog, c);
    return MN_EXIT_OK;
}

/* ---- Settings. ---- */

static void project_dir(const mn_project *p, char *out, size_t cap)
{
    struct stat st;
    if (p->dir && stat(p->dir, &st) == 0) {
        snprintf(out, cap, "%s", p->dir);
        if (!S_ISDIR(st.st_mode)) {
            char *slash = strrchr(out, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(out, cap, ".");
        }
        return;
    }
    if (!getcwd(out, cap))
        snprintf(out, cap, ".");
}

static int load_settings(mn_cli *cli)
{
    cli->settings = mn_settings_new();
    if (!cli->settings)
        return mn_cli_fail(cli, "out of memory");
    for (size_t i = 0; cli->project->apps && cli->project->apps[i]; i++) {
        const mn_app *app = cli->project->apps[i];
        if (app->settings && mn_settings_register_table(cli->settings, app->settings) != 0)
            return mn_cli_fail(cli, "app %s: %s", app->name, mn_settings_error(cli->settings));
    }
    if (cli->command->production)
        mn_settings_set_default(cli->settings, "DEBUG", "false");
    char dir[PATH_MAX], cwd[PATH_MAX];
    project_dir(cli->project, dir, sizeof dir);
    if (mn_settings_load(cli->settings, dir) != 0)
        return mn_cli_fail(cli, "%s", mn_settings_error(cli->settings));
    /* a .env where the command runs wins over the project's, as a deployment's own file */
    if (getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) != 0 &&
        mn_settings_load(cli->settings, cwd) != 0)
        return mn_cli_fail(cli, "%s", mn_settings_error(cli->settings));
    mn_settings_set_current(cli->settings);
    const char *fmt = mn_settings_str(cli->settings, "LOG_FORMAT");
    bool json = strcmp(fmt, "json") == 0 ||
                (strcmp(fmt, "auto") == 0 && !mn_settings_bool(cli->settings, "DEBUG"));
    const char *lvl = mn_settings_str(cli->settings, "LOG_LEVEL");
    mn_log_level level = strcmp(lvl, "DEBUG") == 0     ? MN_LOG_DEBUG
                         : strcmp(lvl, "WARNING") == 0 ? MN_LOG_WARNING
                         : strcmp(lvl, "ERROR") == 0   ? MN_LOG_ERROR
                                                       : MN_LOG_INFO;
    mn_log_configure(level, json, 2);
    return 0;
}

int mn_main(int argc, char **argv, const mn_project *project)
{
    mn_cli cli = {project, NULL, NULL, NULL, NULL, false};
    const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    cli.prog = project->name ? project->name : base ? base + 1 : argc > 0 ? argv[0] : "manage";
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_list(cli.prog, project);
        return MN_EXIT_OK;
    }
    cli.command = find_command(project, argv[1], NULL);
    if (!cli.command) {
        fprintf(stderr, "%s: unknown command '%s' (see '%s help')\n", cli.prog, argv[1], cli.prog);
        return MN_EXIT_FAILURE;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(cli.prog, cli.command);
            return MN_EXIT_OK;
        }
    if (!cli.command->run)
        return help(&cli, argc - 2, argv + 2);
    int rc = load_settings(&cli);
    if (rc == 0)
        rc = cli.command->run(&cli, argc - 2, argv + 2);
    fflush(stdout);
    mn_settings_set_current(NULL);
    mn_site_free(cli.site);
    mn_settings_free(cli.settings);
    return rc;
}
