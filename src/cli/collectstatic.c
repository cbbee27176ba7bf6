/* collectstatic.c — `collectstatic`: every app's static/ folder and STATICFILES_DIRS into
 * STATIC_ROOT, with hashed copies and the manifest (staticfiles.h has the details). As
 * Django's, it prints how many files it copied and post-processed; --clear empties
 * STATIC_ROOT first; --noinput is accepted for scripts written for Django (nothing is asked). */
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

int mn__cmd_collectstatic(mn_cli *cli, int argc, char **argv)
{
    bool clear = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--noinput") || !strcmp(argv[i], "--no-input"))
            continue;
        if (!strcmp(argv[i], "--clear"))
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
    printf("\n%zu static file%s copied to '%s', %zu post-processed.\n", report.copied,
           report.copied == 1 ? "" : "s", shown, report.hashed);
    return MN_EXIT_OK;
}
