/* cli/internal.h — the built-in commands, shared between the files of the CLI. */
#ifndef MN_CLI_INTERNAL_H
#define MN_CLI_INTERNAL_H

#include <manouche/cli.h>

int mn__cmd_runserver(mn_cli *cli, int argc, char **argv);
int mn__cmd_serve(mn_cli *cli, int argc, char **argv);
int mn__cmd_urls(mn_cli *cli, int argc, char **argv);
int mn__cmd_check(mn_cli *cli, int argc, char **argv);
int mn__cmd_settings(mn_cli *cli, int argc, char **argv);
int mn__cmd_collectstatic(mn_cli *cli, int argc, char **argv);

#endif
