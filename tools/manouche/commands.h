/* commands.h — the `manouche` command's subcommands, one file each. Each takes the arguments
 * after its name and returns the exit status (0 ok, 1 failed, 2 bad usage). */
#ifndef MANOUCHE_TOOL_COMMANDS_H
#define MANOUCHE_TOOL_COMMANDS_H

int startproject_command(int argc, char **argv);
int startapp_command(int argc, char **argv);

#endif
