/* polls — the Django tutorial's polls site on Manouche, and `make demo`.
 *
 *   build/bin/polls runserver 127.0.0.1:8000     development server (DEBUG on)
 *   build/bin/polls serve --workers 4            production: master + workers
 *   build/bin/polls help                         every command
 *
 * The binary is the project's management CLI (as manage.py); settings come from the
 * environment and a .env file in this folder. */
#include "polls.h"
#include "store.h"

#include <stdio.h>

static void home(mn_req *r)
{
    mn_redirect(r, mn_reverse(r, "polls:index"));
}

static const mn_route urls[] = {
    MN_PATH("", home, "home"),
    MN_INCLUDE("polls/", polls_urls, "polls"),
    MN_END,
};

/* `polls questions`: an app's own management command (a session outside any request) */
static int list_questions(mn_cli *cli, int argc, char **argv)
{
    if (argc > 0)
        return mn_cli_usage_error(cli, "unexpected argument '%s'", argv[0]);
    mn_site *site = mn_cli_site(cli);
    char err[512];
    if (!site)
        return MN_EXIT_FAILURE;
    if (mn_site_create_tables(site, err, sizeof err) != 0)
        return mn_cli_fail(cli, "%s", err);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = a ? mn_orm_new(a, mn_site_db(site, NULL, err, sizeof err)) : NULL;
    if (o && polls_seed_if_empty(o) != 0)
        o = NULL;
    mn_qs *published = o ? polls_published(o, a) : NULL;
    mn_rows *rows = published ? mn_qs_fetch(mn_qs_order_by(published, "-pub_date")) : NULL;
    int rc = rows ? MN_EXIT_OK : mn_cli_fail(cli, "%s", o ? mn_orm_error(o) : "out of memory");
    for (size_t i = 0; rows && i < rows->len; i++) {
        const Question *q = rows->items[i];
        printf("%lld\t%s\n", (long long)q->id, q->text);
    }
    mn_arena_free(a);
    return rc;
}

static const mn_command polls_commands[] = {
    {"questions", "Lists the published questions.", "", list_questions, false},
    {NULL, NULL, NULL, NULL, false},
};

static const mn_app polls_app = {
    .name = "polls",
    .templates_dir = "templates",
    .static_dir = "static",
    .commands = polls_commands,
};

static const mn_app *const apps[] = {&polls_app, NULL};

static const mn_project project = {
    .name = "polls",
    .urls = urls,
    .apps = apps,
    .dir = __FILE__, /* this folder: templates, static files and .env live here */
};

int main(int argc, char **argv)
{
    return mn_main(argc, argv, &project);
}
