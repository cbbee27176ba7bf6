/* The management CLI: command lookup, --help, app commands, urls, check, settings errors and
 * address parsing. Output is captured with Criterion's redirections. */
#include <manouche/cli.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void v(mn_req *r)
{
    mn_resp_puts(r, "ok");
}

static const mn_route app_urls[] = {
    MN_PATH("", v, "index"),
    MN_PATH("<int:id>/", v, "detail"),
    MN_END,
};

static const mn_route urls[] = {
    MN_INCLUDE("shop/", app_urls, "shop"),
    MN_PATH_METHODS("api/", v, "api", "GET,POST"),
    MN_PATH("raw/", v, NULL),
    MN_END,
};

static int seen_argc = -1;

static int hello_cmd(mn_cli *cli, int argc, char **argv)
{
    seen_argc = argc;
    printf("hello %s from %s\n", argc ? argv[0] : "nobody", mn_cli_prog(cli));
    return argc > 1 ? mn_cli_fail(cli, "too many names") : MN_EXIT_OK;
}

static const mn_command shop_commands[] = {
    {"hello", "Greets someone.", "[name]", hello_cmd, false},
    {NULL, NULL, NULL, NULL, false},
};

static const mn_template_embedded good_templates[] = {
    {"shop/list.html", "{% for x in xs %}{{ x }}{% endfor %}"},
    {NULL, NULL},
};

static const mn_template_embedded bad_templates[] = {
    {"shop/broken.html", "{% for x in xs %}{{ x }}"},
    {NULL, NULL},
};

static const mn_setting_def shop_settings[] = {
    {"SHOP_PAGE_SIZE", MN_SETTING_INT, "10", "items per page", 1, 100, NULL, false, NULL, NULL},
    {NULL, MN_SETTING_BOOL, NULL, NULL, 0, 0, NULL, false, NULL, NULL},
};

static const mn_app shop = {"shop",        NULL,          NULL, good_templates,
                            shop_settings, shop_commands, NULL, NULL};
static const mn_app *const apps[] = {&shop, NULL};
static const mn_project project = {"shop", urls, apps, NULL,          NULL,
                                   NULL,   NULL, NULL, "/nonexistent"};

static const mn_app broken = {"shop", NULL, NULL, bad_templates, NULL, NULL, NULL, NULL};
static const mn_app *const broken_apps[] = {&broken, NULL};
static const mn_project broken_project = {"shop", urls, broken_apps, NULL,          NULL,
                                          NULL,   NULL, NULL,        "/nonexistent"};

static int run(const mn_project *p, const char *a1, const char *a2, const char *a3)
{
    char *argv[5] = {(char *)"./shop", (char *)a1, (char *)a2, (char *)a3, NULL};
    int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);
    int rc = mn_main(argc, argv, p);
    fflush(stdout);
    fflush(stderr);
    return rc;
}

static void redirect(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
    /* every setting comes from its default unless a test says otherwise */
    mn_settings *s = mn_settings_new();
    const mn_setting_def *d;
    for (size_t i = 0; (d = mn_settings_def_at(s, i)) != NULL; i++)
        unsetenv(d->name);
    mn_settings_free(s);
    unsetenv("SHOP_PAGE_SIZE");
}

TestSuite(cli, .init = redirect);

/* Everything the command wrote to stdout so far. */
static const char *captured_stdout(void)
{
    static char buf[8192];
    fflush(stdout);
    FILE *f = cr_get_redirected_stdout();
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    return buf;
}

Test(cli, help_lists_builtin_and_app_commands)
{
    cr_assert_eq(run(&project, "help", NULL, NULL), 0);
    const char *out = captured_stdout();
    static const char *const want[] = {
        "Type 'shop help <subcommand>' for help on a specific subcommand.\n\n"
        "Available subcommands:\n\n[manouche]\n",
        "    check          Checks the settings, URL patterns and templates for problems.\n",
        "    help           Lists the commands, or shows how to use one.\n",
        "    runserver      Starts a development server (one process, DEBUG on unless set).\n",
        "    serve          Starts the production server",
        "    settings       Shows every setting",
        "    urls           Lists the URL patterns with their names and methods.\n",
        "\n[shop]\n    hello          Greets someone.\n",
        NULL};
    for (size_t i = 0; want[i]; i++)
        cr_assert(strstr(out, want[i]), "help lacks '%s':\n%s", want[i], out);
    cr_assert(strncmp(out, want[0], strlen(want[0])) == 0, "%s", out);
}

Test(cli, no_command_shows_help)
{
    cr_assert_eq(run(&project, NULL, NULL, NULL), 0);
    fflush(stdout);
}

Test(cli, help_on_every_command)
{
    cr_assert_eq(run(&project, "hello", "--help", NULL), 0);
    cr_assert_eq(seen_argc, -1); /* --help never runs the command */
    cr_assert_stdout_eq_str("usage: shop hello [name]\n\nGreets someone.\n");
}

Test(cli, help_topic)
{
    cr_assert_eq(run(&project, "help", "urls", NULL), 0);
    cr_assert_stdout_eq_str("usage: shop urls\n\nLists the URL patterns with their names and "
                            "methods.\n");
}

Test(cli, unknown_command_is_one_line_and_non_zero)
{
    cr_assert_eq(run(&project, "migrat", NULL, NULL), MN_EXIT_FAILURE);
    cr_assert_stderr_eq_str("shop: unknown command 'migrat' (see 'shop help')\n");
}

Test(cli, app_command_gets_its_arguments)
{
    cr_assert_eq(run(&project, "hello", "ana", NULL), 0);
    cr_assert_stdout_eq_str("hello ana from shop\n");
}

Test(cli, command_failure_names_the_command)
{
    cr_assert_eq(run(&project, "hello", "a", "b"), MN_EXIT_FAILURE);
    cr_assert_stderr_eq_str("shop hello: too many names\n");
}

Test(cli, urls_lists_patterns_names_methods)
{
    cr_assert_eq(run(&project, "urls", NULL, NULL), 0);
    cr_assert_stdout_eq_str("/shop/               shop:index                ANY\n"
                            "/shop/<int:id>/      shop:detail               ANY\n"
                            "/api/                api                       GET,POST\n"
                            "/raw/                -                         ANY\n"
                            "/static/<path:path>  static                    GET,HEAD\n");
}

Test(cli, check_passes_on_a_good_project)
{
    cr_assert_eq(run(&project, "check", NULL, NULL), 0);
    cr_assert_stdout_eq_str("System check identified no issues (0 silenced).\n");
}

Test(cli, check_reports_template_errors)
{
    cr_assert_eq(run(&broken_project, "check", NULL, NULL), MN_EXIT_FAILURE);
    fflush(stderr);
}

Test(cli, check_reports_an_overridden_template_once)
{
    /* A project folder's shop/broken.html overrides the app's: one template, one issue. */
    char dir[] = "/tmp/mn-check-XXXXXX", sub[64], file[96];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/shop", dir);
    mkdir(sub, 0755);
    snprintf(file, sizeof file, "%s/broken.html", sub);
    FILE *f = fopen(file, "w");
    fputs("{% if x %}never closed", f);
    fclose(f);
    setenv("TEMPLATES_DIRS", dir, 1);
    cr_expect_eq(run(&broken_project, "check", NULL, NULL), MN_EXIT_FAILURE);
    unsetenv("TEMPLATES_DIRS");
    unlink(file);
    rmdir(sub);
    rmdir(dir);
    cr_expect(strstr(captured_stdout(), "System check identified 1 issue (0 silenced)."),
              "stdout: %s", captured_stdout());
}

Test(cli, bad_setting_stops_with_one_line)
{
    setenv("WORKERS", "abc", 1);
    cr_assert_eq(run(&project, "urls", NULL, NULL), MN_EXIT_FAILURE);
    cr_assert_stderr_eq_str("shop urls: WORKERS: 'abc' is not an integer >= 1\n");
}

Test(cli, app_settings_are_checked)
{
    setenv("SHOP_PAGE_SIZE", "500", 1);
    cr_assert_eq(run(&project, "check", NULL, NULL), MN_EXIT_FAILURE);
    cr_assert_stderr_eq_str("shop check: SHOP_PAGE_SIZE: '500' is not an integer between 1 and "
                            "100\n");
}

Test(cli, serve_defaults_debug_off_so_needs_secret_key)
{
    cr_assert_eq(run(&project, "serve", NULL, NULL), MN_EXIT_FAILURE);
    cr_assert_stderr_eq_str("shop serve: SECRET_KEY: '' is not allowed when DEBUG is off (set "
                            "SECRET_KEY in the environment or .env)\n");
}

Test(cli, serve_rejects_bad_worker_count)
{
    setenv("SECRET_KEY", "x", 1);
    cr_assert_eq(run(&project, "serve", "--workers", "0"), MN_EXIT_USAGE);
    cr_assert_stderr_eq_str("shop serve: --workers: '0' is not an integer >= 1\n");
}

Test(cli, runserver_rejects_bad_address)
{
    cr_assert_eq(run(&project, "runserver", "host:99999", NULL), MN_EXIT_USAGE);
    cr_assert_stderr_eq_str(
        "shop runserver: 'host:99999' is not a valid port number or address:port pair\n");
}

Test(cli_addr, parses_django_forms)
{
    char host[64];
    int port;
    cr_assert_eq(mn_cli_parse_addr(NULL, "127.0.0.1", 8000, host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 8000);
    cr_assert_eq(mn_cli_parse_addr("9000", "127.0.0.1", 8000, host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 9000);
    cr_assert_eq(mn_cli_parse_addr("0.0.0.0:81", "127.0.0.1", 8000, host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "0.0.0.0");
    cr_assert_eq(port, 81);
    /* Django's shorthand "0:8000" means every IPv4 address and is shown as such. */
    cr_assert_eq(mn_cli_parse_addr("0:8001", "127.0.0.1", 8000, host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "0.0.0.0");
    cr_assert_eq(port, 8001);
    cr_assert_eq(mn_cli_parse_addr("[::1]:82", "127.0.0.1", 8000, host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 82);
    cr_assert_eq(mn_cli_parse_addr("localhost", "127.0.0.1", 8000, host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "localhost");
    cr_assert_eq(port, 8000);
    cr_assert_eq(mn_cli_parse_addr("::1", "h", 1, host, sizeof host, &port), MN_EINVAL);
    cr_assert_eq(mn_cli_parse_addr("h:x", "h", 1, host, sizeof host, &port), MN_EINVAL);
    cr_assert_eq(mn_cli_parse_addr("h:70000", "h", 1, host, sizeof host, &port), MN_EINVAL);
    cr_assert_eq(mn_cli_parse_addr(":80", "h", 1, host, sizeof host, &port), MN_EINVAL);
}

Test(cli, check_deploy_warns_but_passes)
{
    setenv("DEBUG", "false", 1);
    setenv("SECRET_KEY", "short", 1);
    cr_assert_eq(run(&project, "check", "--deploy", NULL), 0);
    cr_assert_stdout_eq_str(
        "System check identified some issues:\n\nWARNINGS:\n"
        "?: (security.W009) Your SECRET_KEY has less than 50 characters or is prefixed with "
        "'django-insecure-'.\n"
        "?: (security.W020) ALLOWED_HOSTS must not be empty in deployment.\n"
        "?: (security.W004) You have not set a value for the SECURE_HSTS_SECONDS setting.\n"
        "?: (security.W008) Your SECURE_SSL_REDIRECT setting is not set to True.\n"
        "\nSystem check identified 4 issues (0 silenced).\n");
}

Test(cli, settings_shows_changed_values_masked)
{
    setenv("SECRET_KEY", "hunter2", 1);
    setenv("SHOP_PAGE_SIZE", "20", 1);
    cr_assert_eq(run(&project, "settings", "--changed", NULL), 0);
    cr_assert_stdout_eq_str("SECRET_KEY = '********************'  (environment)\n"
                            "SHOP_PAGE_SIZE = '20'  (environment)\n");
}
