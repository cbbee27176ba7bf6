/* collectstatic.c — `collectstatic`: every app's static/ folder and STATICFILES_DIRS into
 * STATIC_ROOT, with hashed copies and the manifest (staticfiles.h has the details). As
 * Django's, it asks for confirmation first (when a person is at the terminal; --noinput
 * skips the question), leaves files whose copy is already current alone, and prints how many
 * files it copied, left unmodified and post-processed; --clear empties STATIC_ROOT first. */
#define _GNU_SOURCE
#include "cli/internal.h"

#include <manouche/staticfiles.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    return ftw->level == 0 ? 0 : remove(path); /* keep STATIC_ROOT itself */
}

static bool confirmed(const char *root, bool clear)
{
    printf("\nYou asked to collect static files into the folder named by STATIC_ROOT:\n\n"
           "    %s\n\n%s\nAre you sure you want to do this?\n\n"
           "Type 'yes' to continue, or 'no' to cancel: ",
           root,
           clear ? "This will DELETE ALL FILES in this location!"
                 : "This will overwrite existing files!");
    fflush(stdout);
    char answer[64];
    if (!fgets(answer, sizeof answer, stdin))
        return false;
    answer[strcspn(answer, "\r\n")] = '\0';
    return strcmp(answer, "yes") == 0;
}

int mn__cmd_collectstatic(mn_cli *cli, int argc, char **argv)
{
    bool clear = false, interactive = true;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--noinput") || !strcmp(argv[i], "--no-input"))
            interactive = false;
        else if (!strcmp(argv[i], "--clear"))
            clear = true;
        else
            return mn_cli_usage_error(cli, "unexpected argument '%s'", argv[i]);
    }
    if (!*mn_settings_str(mn_cli_settings(cli), "STATIC_ROOT"))
        return mn_cli_fail(cli, "STATIC_ROOT is not set: set it to the folder that should "
                                "receive the static files (e.g. STATIC_ROOT=staticfiles)");
    mn_site *site = mn_cli_site(cli);
    if (!site)
        return MN_EXIT_FAILURE; /* the site said why */
    mn_static *st = mn_site_static(site);
    const char *root = mn_static_root(st); /* resolved against the project folder */
    char real[PATH_MAX];
    const char *shown = realpath(root, real) ? real : root;
    /* Only a terminal is asked: a script or a pipe without --noinput must not hang. */
    if (interactive && isatty(STDIN_FILENO) && !confirmed(shown, clear))
        return mn_cli_fail(cli, "Collecting static files cancelled.");
    if (clear && nftw(shown, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return mn_cli_fail(cli, "cannot clear STATIC_ROOT '%s'", shown);
    mn_static_report report;
    mn_buf err;
    mn_buf_init(&err, NULL);
    int rc = mn_static_collect(st, &report, &err);
    if (rc != MN_OK) {
        int status = mn_cli_fail(cli, "%s", err.len ? mn_buf_cstr(&err) : mn_strerror(rc));
        mn_buf_free(&err);
        return status;
    }
    mn_buf_free(&err);
    shown = realpath(root, real) ? real : root;
    printf("\n%zu static file%s copied to '%s'", report.copied, report.copied == 1 ? "" : "s",
           shown);
    if (report.unmodified)
        printf(", %zu unmodified", report.unmodified);
    if (report.hashed)
        printf(", %zu post-processed", report.hashed);
    printf(".\n");
    return MN_EXIT_OK;
}
