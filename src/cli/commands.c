/* commands.c — `urls`, `check` and `settings`: the commands that look at a project without
 * serving it. `check` compiles every template it can find, so a template syntax error is
 * found before the first request hits it, as Django's system checks do for settings. */
#define _GNU_SOURCE
#include "cli/internal.h"

#include <manouche/orm.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mn__cmd_urls(mn_cli *cli, int argc, char **argv)
{
    if (argc > 0)
        return mn_cli_usage_error(cli, "unexpected argument '%s'", argv[0]);
    mn_site *site = mn_cli_site(cli);
    if (!site)
        return MN_EXIT_FAILURE;
    const mn_router *rt = mn_site_router(site);
    const char *static_url = mn_settings_str(mn_cli_settings(cli), "STATIC_URL");
    char spat[512] = "";
    if (static_url[0] == '/')
        snprintf(spat, sizeof spat, "%s<path:path>", static_url + 1);
    size_t width = strlen(spat);
    const char *pat, *name, *methods;
    for (size_t i = 0; mn_router_route_at(rt, i, &pat, &name, &methods, NULL); i++)
        if (strlen(pat) > width)
            width = strlen(pat);
    for (size_t i = 0; mn_router_route_at(rt, i, &pat, &name, &methods, NULL); i++)
        printf("/%-*s  %-24s  %s\n", (int)width, pat, name ? name : "-", methods ? methods : "ANY");
    if (spat[0])
        printf("/%-*s  %-24s  %s\n", (int)width, spat, "static", "GET,HEAD");
    return MN_EXIT_OK;
}

/* ---- check ---- */

typedef struct checker {
    mn_template_engine *engine;
    const char *root;
    size_t root_len;
    int errors;
    int templates;
    mn_buf messages;
    mn_buf seen; /* names already compiled, each ending in '\0' */
} checker;

/* Compiles one template by name, as a view would load it, once per name: a project template
 * that overrides an app's is the one the engine loads, so the second sighting adds nothing. */
static void check_template(checker *c, const char *name)
{
    size_t len = strlen(name);
    for (size_t off = 0; off < c->seen.len; off += strlen(c->seen.data + off) + 1)
        if (strcmp(c->seen.data + off, name) == 0)
            return;
    mn_buf_append(&c->seen, name, len + 1);
    mn_template_error err;
    memset(&err, 0, sizeof err);
    c->templates++;
    if (!mn_template_engine_get(c->engine, name, &err)) {
        c->errors++;
        mn_buf_printf(&c->messages, "?: (templates.E001) %s: ", name);
        mn_template_error_format(&err, &c->messages);
        if (c->messages.len && c->messages.data[c->messages.len - 1] != '\n')
            mn_buf_putc(&c->messages, '\n');
    }
}

static checker *walk_ctx; /* nftw has no user pointer */

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    const char *base = strrchr(path, '/');
    if (base && base[1] == '.')
        return 0;
    checker *c = walk_ctx;
    const char *rel = path + c->root_len;
    while (*rel == '/')
        rel++;
    check_template(c, rel);
    return 0;
}

static void check_dir(checker *c, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    c->root = dir;
    c->root_len = strlen(dir);
    walk_ctx = c;
    nftw(dir, visit, 16, FTW_PHYS);
    walk_ctx = NULL;
}

static void project_path(const mn_project *p, const char *rel, char *out, size_t cap)
{
    if (rel[0] == '/') {
        snprintf(out, cap, "%s", rel);
        return;
    }
    char dir[PATH_MAX];
    struct stat st;
    if (p->dir && stat(p->dir, &st) == 0) {
        snprintf(dir, sizeof dir, "%s", p->dir);
        if (!S_ISDIR(st.st_mode)) {
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
        }
    } else if (!getcwd(dir, sizeof dir)) {
        snprintf(dir, sizeof dir, ".");
    }
    snprintf(out, cap, "%s/%s", dir, rel);
}

static void deploy_checks(const mn_settings *s, mn_buf *w, int *warnings)
{
    /* as django.core.checks.security.base */
    const char *key = mn_settings_str(s, "SECRET_KEY");
    if (strlen(key) < 50 || strncmp(key, "django-insecure-", 16) == 0) {
        mn_buf_puts(w, "?: (security.W009) Your SECRET_KEY has less than 50 characters or is "
                       "prefixed with 'django-insecure-'.\n");
        (*warnings)++;
    }
    if (mn_settings_bool(s, "DEBUG")) {
        mn_buf_puts(w, "?: (security.W018) You should not have DEBUG set to True in "
                       "deployment.\n");
        (*warnings)++;
    }
    size_t n;
    mn_settings_list(s, "ALLOWED_HOSTS", &n);
    if (n == 0) {
        mn_buf_puts(w, "?: (security.W020) ALLOWED_HOSTS must not be empty in deployment.\n");
        (*warnings)++;
    }
    if (mn_settings_int(s, "SECURE_HSTS_SECONDS") == 0) {
        mn_buf_puts(w, "?: (security.W004) You have not set a value for the SECURE_HSTS_SECONDS "
                       "setting.\n");
        (*warnings)++;
    }
    if (!mn_settings_bool(s, "SECURE_SSL_REDIRECT")) {
        mn_buf_puts(w, "?: (security.W008) Your SECURE_SSL_REDIRECT setting is not set to "
                       "True.\n");
        (*warnings)++;
    }
}

/* Django's check message levels (django.core.checks): a message at or above --fail-level
 * makes `check` exit 1. Template errors are ERROR, the --deploy findings WARNING. */
enum {
    LEVEL_DEBUG = 10,
    LEVEL_INFO = 20,
    LEVEL_WARNING = 30,
    LEVEL_ERROR = 40,
    LEVEL_CRITICAL = 50
};

static int parse_level(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"CRITICAL", LEVEL_CRITICAL},
                  {"ERROR", LEVEL_ERROR},
                  {"WARNING", LEVEL_WARNING},
                  {"INFO", LEVEL_INFO},
                  {"DEBUG", LEVEL_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0)
            return levels[i].level;
    return 0;
}

int mn__cmd_check(mn_cli *cli, int argc, char **argv)
{
    bool deploy = false;
    int fail_level = LEVEL_ERROR;
    for (int i = 0; i < argc; i++) {
        const char *level = NULL;
        if (strcmp(argv[i], "--deploy") == 0) {
            deploy = true;
            continue;
        } else if (strcmp(argv[i], "--fail-level") == 0) {
            if (i + 1 >= argc)
                return mn_cli_usage_error(cli, "--fail-level needs a level (CRITICAL, ERROR, "
                                               "WARNING, INFO or DEBUG)");
            level = argv[++i];
        } else if (strncmp(argv[i], "--fail-level=", 13) == 0) {
            level = argv[i] + 13;
        } else {
            return mn_cli_usage_error(cli, "unexpected argument '%s'", argv[i]);
        }
        if (!(fail_level = parse_level(level)))
            return mn_cli_usage_error(cli,
                                      "--fail-level: invalid choice: '%s' (choose from CRITICAL, "
                                      "ERROR, WARNING, INFO, DEBUG)",
                                      level);
    }
    /* settings were checked while loading; routes and middleware when building the site */
    mn_site *site = mn_cli_site(cli);
    if (!site)
        return MN_EXIT_FAILURE;
    const mn_project *p = mn_cli_project(cli);
    const mn_settings *s = mn_cli_settings(cli);
    checker c;
    memset(&c, 0, sizeof c);
    c.engine = mn_site_templates(site);
    mn_buf_init(&c.messages, NULL);
    mn_buf_init(&c.seen, NULL);
    char path[PATH_MAX];
    size_t n;
    const char *const *dirs = mn_settings_list(s, "TEMPLATES_DIRS", &n);
    for (size_t i = 0; i < n; i++) {
        project_path(p, dirs[i], path, sizeof path);
        check_dir(&c, path);
    }
    /* models: relations resolve, Meta.ordering names fields (Django's models.E015) */
    const char *why = NULL;
    if (mn_models_ready(&why) != 0) {
        c.errors++;
        mn_buf_printf(&c.messages, "%s\n", why ? why : "the model registry is not valid");
    }
    for (size_t i = 0; p->apps && p->apps[i]; i++) {
        const mn_app *app = p->apps[i];
        if (app->templates_dir) {
            project_path(p, app->templates_dir, path, sizeof path);
            check_dir(&c, path);
        }
        for (size_t j = 0; app->templates && app->templates[j].name; j++)
            check_template(&c, app->templates[j].name);
    }
    int warnings = 0;
    mn_buf w;
    mn_buf_init(&w, NULL);
    if (deploy)
        deploy_checks(s, &w, &warnings);
    int rc = MN_EXIT_OK;
    if (c.errors || warnings) {
        printf("System check identified some issues:\n");
        if (c.errors) {
            fflush(stdout);
            fprintf(stderr, "\nERRORS:\n%.*s", (int)c.messages.len, c.messages.data);
            fflush(stderr);
        }
        if (warnings)
            printf("\nWARNINGS:\n%.*s", (int)w.len, w.data);
        printf("\nSystem check identified %d issue%s (0 silenced).\n", c.errors + warnings,
               c.errors + warnings == 1 ? "" : "s");
        int worst = c.errors ? LEVEL_ERROR : LEVEL_WARNING;
        rc = worst >= fail_level ? MN_EXIT_FAILURE : MN_EXIT_OK;
    } else {
        printf("System check identified no issues (0 silenced).\n");
    }
    mn_buf_free(&c.messages);
    mn_buf_free(&c.seen);
    mn_buf_free(&w);
    return rc;
}

/* ---- settings ---- */

int mn__cmd_settings(mn_cli *cli, int argc, char **argv)
{
    bool changed = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--changed") == 0)
            changed = true;
        else
            return mn_cli_usage_error(cli, "unexpected argument '%s'", argv[i]);
    }
    const mn_settings *s = mn_cli_settings(cli);
    static const char *const from[] = {"default", ".env", "environment", "code"};
    const mn_setting_def *d;
    for (size_t i = 0; (d = mn_settings_def_at(s, i)) != NULL; i++) {
        mn_setting_source src = mn_settings_source(s, d->name);
        if (changed && src == MN_SETTING_FROM_DEFAULT)
            continue;
        printf("%s = '%s'  (%s)\n", d->name, mn_settings_display(s, d->name), from[src]);
    }
    return MN_EXIT_OK;
}
