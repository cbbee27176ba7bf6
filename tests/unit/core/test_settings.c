/* Settings: defaults, .env, environment (env wins), type checks and their one-line errors. */
#include <manouche/settings.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

/* Each test starts from the defaults, whatever the environment running the suite holds
 * (`PORT=9000 make test` must not change what the defaults look like). */
static void clean_env(void)
{
    mn_settings *s = mn_settings_new();
    const mn_setting_def *d;
    for (size_t i = 0; (d = mn_settings_def_at(s, i)) != NULL; i++)
        unsetenv(d->name);
    mn_settings_free(s);
}

TestSuite(settings, .init = clean_env);

static void write_env(const char *text)
{
    snprintf(dir, sizeof dir, "/tmp/mn-settings-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/.env", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_env(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.env", dir);
    unlink(path);
    rmdir(dir);
}

static mn_settings *loaded(const char *dotenv)
{
    mn_settings *s = mn_settings_new();
    cr_assert_not_null(s);
    if (dotenv)
        write_env(dotenv);
    int rc = mn_settings_load(s, dotenv ? dir : NULL);
    if (dotenv)
        remove_env();
    cr_assert_eq(rc, 0, "load failed: %s", mn_settings_error(s));
    return s;
}

Test(settings, defaults_are_typed_and_django_like)
{
    setenv("SECRET_KEY", "x", 1);
    unsetenv("DEBUG");
    mn_settings *s = loaded(NULL);
    cr_assert_eq(mn_settings_bool(s, "DEBUG"), true); /* defaults suit development */
    cr_assert_eq(mn_settings_bool(s, "APPEND_SLASH"), true);
    cr_assert_eq(mn_settings_size(s, "DATA_UPLOAD_MAX_MEMORY_SIZE"), 2621440);
    cr_assert_eq(mn_settings_int(s, "DATA_UPLOAD_MAX_NUMBER_FIELDS"), 1000);
    cr_assert_eq(mn_settings_int(s, "PORT"), 8000);
    cr_assert_geq(mn_settings_int(s, "WORKERS"), 1);
    cr_assert_str_eq(mn_settings_str(s, "SECURE_REFERRER_POLICY"), "same-origin");
    cr_assert_str_eq(mn_settings_str(s, "DATABASE_URL"), "sqlite:///db.sqlite3");
    cr_assert_eq(mn_settings_source(s, "PORT"), MN_SETTING_FROM_DEFAULT);
    mn_settings_free(s);
}

Test(settings, environment_overrides_default)
{
    setenv("SECRET_KEY", "x", 1);
    setenv("WORKERS", "3", 1);
    setenv("DEBUG", "On", 1);
    mn_settings *s = loaded(NULL);
    cr_assert_eq(mn_settings_int(s, "WORKERS"), 3);
    cr_assert(mn_settings_bool(s, "DEBUG"));
    cr_assert_eq(mn_settings_source(s, "WORKERS"), MN_SETTING_FROM_ENV);
    mn_settings_free(s);
}

Test(settings, environment_wins_over_dotenv)
{
    setenv("PORT", "9001", 1);
    mn_settings *s = loaded("# comment\nexport SECRET_KEY='from dotenv'\nPORT=9000\n"
                            "DEBUG=yes # trailing comment\nALLOWED_HOSTS= a.com , .b.org,,\n");
    cr_assert_eq(mn_settings_int(s, "PORT"), 9001);
    cr_assert_str_eq(mn_settings_str(s, "SECRET_KEY"), "from dotenv");
    cr_assert_eq(mn_settings_source(s, "SECRET_KEY"), MN_SETTING_FROM_DOTENV);
    cr_assert(mn_settings_bool(s, "DEBUG"));
    size_t n;
    const char *const *hosts = mn_settings_list(s, "ALLOWED_HOSTS", &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(hosts[0], "a.com");
    cr_assert_str_eq(hosts[1], ".b.org");
    cr_assert_null(hosts[2]);
    mn_settings_free(s);
}

static void expect_error(const char *name, const char *value, const char *message)
{
    setenv("SECRET_KEY", "x", 1);
    setenv(name, value, 1);
    mn_settings *s = mn_settings_new();
    cr_assert_eq(mn_settings_load(s, NULL), MN_EINVAL, "%s=%s was accepted", name, value);
    cr_assert_str_eq(mn_settings_error(s), message);
    mn_settings_free(s);
    unsetenv(name);
}

Test(settings, wrong_values_name_setting_value_and_what_is_allowed)
{
    expect_error("WORKERS", "abc", "WORKERS: 'abc' is not an integer >= 1");
    expect_error("WORKERS", "0", "WORKERS: '0' is not an integer >= 1");
    expect_error("DEBUG", "maybe",
                 "DEBUG: 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)");
    expect_error("PORT", "70000", "PORT: '70000' is not an integer between 0 and 65535");
    expect_error("LOG_FORMAT", "xml", "LOG_FORMAT: 'xml' is not one of auto, text, json");
    expect_error("DATA_UPLOAD_MAX_MEMORY_SIZE", "-5",
                 "DATA_UPLOAD_MAX_MEMORY_SIZE: '-5' is not a size in bytes >= 0 (a number with "
                 "an optional K, M or G suffix)");
    expect_error("STATIC_URL", "/static",
                 "STATIC_URL: '/static' is not a URL prefix ending in '/'");
}

Test(settings, database_url_must_be_a_known_scheme)
{
    setenv("SECRET_KEY", "x", 1);
    setenv("DATABASE_URL", "mysql://x", 1);
    mn_settings *s = mn_settings_new();
    cr_assert_eq(mn_settings_load(s, NULL), MN_EINVAL);
    cr_assert(
        strncmp(mn_settings_error(s), "DATABASE_URL: 'mysql://x' is not a database URL", 47) == 0,
        "%s", mn_settings_error(s));
    mn_settings_free(s);
}

Test(settings, sizes_accept_suffixes)
{
    setenv("SECRET_KEY", "x", 1);
    setenv("FILE_UPLOAD_MAX_MEMORY_SIZE", "5M", 1);
    setenv("DATA_UPLOAD_MAX_MEMORY_SIZE", "512k", 1);
    mn_settings *s = loaded(NULL);
    cr_assert_eq(mn_settings_size(s, "FILE_UPLOAD_MAX_MEMORY_SIZE"), 5 * 1024 * 1024);
    cr_assert_eq(mn_settings_size(s, "DATA_UPLOAD_MAX_MEMORY_SIZE"), 512 * 1024);
    mn_settings_free(s);
}

Test(settings, secret_key_required_without_debug)
{
    unsetenv("SECRET_KEY");
    setenv("DEBUG", "false", 1);
    mn_settings *s = mn_settings_new();
    cr_assert_eq(mn_settings_load(s, NULL), MN_EINVAL);
    cr_assert(
        strncmp(mn_settings_error(s), "SECRET_KEY: '' is not allowed when DEBUG is off", 47) == 0,
        "%s", mn_settings_error(s));
    mn_settings_free(s);

    setenv("DEBUG", "1", 1);
    s = loaded(NULL);
    mn_settings_free(s);
}

Test(settings, debug_default_can_be_changed_before_load)
{
    unsetenv("SECRET_KEY");
    unsetenv("DEBUG");
    mn_settings *s = mn_settings_new();
    cr_assert_eq(mn_settings_set_default(s, "DEBUG", "false"), 0); /* what `serve` does */
    cr_assert_eq(mn_settings_load(s, NULL), MN_EINVAL);
    mn_settings_free(s);
    setenv("DEBUG", "true", 1);
    s = mn_settings_new();
    cr_assert_eq(mn_settings_set_default(s, "DEBUG", "false"), 0);
    cr_assert_eq(mn_settings_load(s, NULL), 0, "%s", mn_settings_error(s));
    cr_assert(mn_settings_bool(s, "DEBUG"));
    mn_settings_free(s);
}

Test(settings, allowed_hosts_debug_fallback_as_django)
{
    setenv("DEBUG", "true", 1);
    unsetenv("ALLOWED_HOSTS");
    mn_settings *s = loaded(NULL);
    size_t n;
    const char *const *h = mn_settings_allowed_hosts(s, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(h[0], ".localhost");
    cr_assert_str_eq(h[1], "127.0.0.1");
    cr_assert_str_eq(h[2], "[::1]");
    mn_settings_free(s);

    setenv("DEBUG", "false", 1);
    setenv("SECRET_KEY", "x", 1);
    s = loaded(NULL);
    mn_settings_allowed_hosts(s, &n);
    cr_assert_eq(n, 0);
    mn_settings_free(s);
}

static bool even(const char *v)
{
    return strlen(v) % 2 == 0;
}

Test(settings, apps_register_their_own)
{
    setenv("SECRET_KEY", "x", 1);
    setenv("POLLS_PAGE_SIZE", "7", 1);
    setenv("POLLS_CODE", "abc", 1);
    mn_settings *s = mn_settings_new();
    const mn_setting_def defs[] = {
        {"POLLS_PAGE_SIZE", MN_SETTING_INT, "5", "questions per page", 1, 100, NULL, false, NULL,
         NULL},
        {"POLLS_CODE", MN_SETTING_STRING, "ab", "a code", 0, 0, NULL, false, even,
         "a string of even length"},
        {NULL, MN_SETTING_BOOL, NULL, NULL, 0, 0, NULL, false, NULL, NULL},
    };
    cr_assert_eq(mn_settings_register_table(s, defs), 0);
    cr_assert_eq(mn_settings_register(s, &defs[0]), MN_EINVAL);
    cr_assert_eq(mn_settings_load(s, NULL), MN_EINVAL);
    cr_assert_str_eq(mn_settings_error(s), "POLLS_CODE: 'abc' is not a string of even length");
    setenv("POLLS_CODE", "abcd", 1);
    cr_assert_eq(mn_settings_load(s, NULL), 0);
    cr_assert_eq(mn_settings_int(s, "POLLS_PAGE_SIZE"), 7);
    mn_settings_free(s);
}

Test(settings, secrets_are_masked)
{
    setenv("SECRET_KEY", "hunter2", 1);
    setenv("DATABASE_URL", "postgres://u:pw@h/db", 1);
    mn_settings *s = loaded(NULL);
    cr_assert_str_eq(mn_settings_display(s, "SECRET_KEY"), "********************");
    cr_assert_str_eq(mn_settings_display(s, "DATABASE_URL"), "********************");
    cr_assert_str_eq(mn_settings_display(s, "PORT"), "8000");
    cr_assert(mn_settings_is_secret(s, "STRIPE_API_TOKEN"));
    mn_settings_free(s);
}

Test(settings, dotenv_errors_name_file_and_line)
{
    setenv("SECRET_KEY", "x", 1);
    write_env("PORT=1\nnot a line\n");
    mn_settings *s = mn_settings_new();
    cr_assert_eq(mn_settings_load(s, dir), MN_EINVAL);
    char want[160];
    snprintf(want, sizeof want, "%s/.env:2: expected NAME=value", dir);
    cr_assert_str_eq(mn_settings_error(s), want);
    remove_env();
    mn_settings_free(s);
}

Test(settings, dotenv_line_parser)
{
    mn_buf b;
    mn_buf_init(&b, NULL);
    mn_str n, v;
    cr_assert_eq(mn_dotenv_parse_line(mn_str_from("A=\"x\\ny # not\" # c"), &n, &v, &b), 0);
    cr_assert(mn_str_eq_cstr(n, "A"));
    cr_assert(mn_str_eq_cstr(v, "x\ny # not"));
    cr_assert_eq(mn_dotenv_parse_line(mn_str_from("   # only comment"), &n, &v, &b), 0);
    cr_assert_null(n.ptr);
    cr_assert_eq(mn_dotenv_parse_line(mn_str_from("B='unterminated"), &n, &v, &b), MN_EINVAL);
    cr_assert_eq(mn_dotenv_parse_line(mn_str_from("1X=2"), &n, &v, &b), MN_EINVAL);
    cr_assert_eq(mn_dotenv_parse_line(mn_str_from("EMPTY="), &n, &v, &b), 0);
    cr_assert(mn_str_eq_cstr(v, ""));
    mn_buf_free(&b);
}
