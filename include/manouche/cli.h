/* manouche/cli.h — the management CLI: a project's binary is its own manage.py.
 *
 *   int main(int argc, char **argv) { return mn_main(argc, argv, &project); }
 *
 * gives `polls runserver [addr:port]`, `polls serve [addr:port] [--workers N]`, `polls urls`,
 * `polls check [--deploy]`, `polls settings`, `polls help [command]`, `--help` on every
 * command, plus the commands each app lists in mn_app.commands. Settings are loaded first
 * (defaults, the project's .env, the environment); a wrong value, an unknown command or a bad
 * argument prints one line on stderr naming what was wrong and exits non-zero. */
#ifndef MANOUCHE_CLI_H
#define MANOUCHE_CLI_H

#include <manouche/core.h>
#include <manouche/settings.h>
#include <manouche/web.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_cli mn_cli;

/* Exit codes: 0 success, 1 the command failed, 2 bad usage (as argparse). */
enum { MN_EXIT_OK = 0, MN_EXIT_FAILURE = 1, MN_EXIT_USAGE = 2 };

typedef struct mn_command {
    const char *name;  /* "migrate" */
    const char *help;  /* one line for `help` */
    const char *usage; /* argument synopsis: "[addr:port] [--workers N]" */
    /* Runs the command with the arguments after its name (argv[0] is the first of them).
     * Returns the exit code. `--help` never reaches it: mn_main answers that. */
    int (*run)(mn_cli *cli, int argc, char **argv);
    /* When set, DEBUG defaults to off for this command (serve): a production command. */
    bool production;
} mn_command;

/* Runs the command named in argv[1] for project; returns the process exit code. */
int mn_main(int argc, char **argv, const mn_project *project);

/* For commands: the project, the loaded settings (mutable until the site is built: flags such
 * as --workers are stored with mn_settings_set), and the site (built on first use; NULL after
 * printing the error). */
const mn_project *mn_cli_project(mn_cli *cli);
mn_settings *mn_cli_settings(mn_cli *cli);
mn_site *mn_cli_site(mn_cli *cli);
/* The program name used in messages ("polls"). */
const char *mn_cli_prog(mn_cli *cli);
/* Prints "<prog> <command>: <message>" on stderr and returns MN_EXIT_FAILURE. */
int mn_cli_fail(mn_cli *cli, const char *fmt, ...) MN_PRINTF(2, 3);
/* The same for a usage error: returns MN_EXIT_USAGE. */
int mn_cli_usage_error(mn_cli *cli, const char *fmt, ...) MN_PRINTF(2, 3);

/* Parses "8000", "0.0.0.0:8000", "[::1]:8000", "localhost" (port from default_port) into
 * host (cap bytes) and port. 0 or MN_EINVAL. */
int mn_cli_parse_addr(const char *arg, const char *default_host, int default_port, char *host,
                      size_t cap, int *port);

#ifdef __cplusplus
}
#endif
#endif
