/* Setting values that look right but cannot work stop start-up with one line naming the
 * setting, the value (a URL's password masked) and what is allowed: a DATABASE_URL port that is
 * not 1-65535, a count limit that is neither a number nor None. */
#include <manouche/settings.h>

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static mn_settings *s;

static void setup(void)
{
    s = mn_settings_new();
    const mn_setting_def *d;
    for (size_t i = 0; (d = mn_settings_def_at(s, i)) != NULL; i++)
        unsetenv(d->name);
}

static void teardown(void)
{
    mn_settings_free(s);
}

TestSuite(settings_checks, .init = setup, .fini = teardown);

static const char *set_error(const char *name, const char *value)
{
    return mn_settings_set(s, name, value) == 0 ? NULL : mn_settings_error(s);
}

#define ALLOWED                                                                                    \
    "a database URL (sqlite:///path.db, sqlite:////abs/path.db or "                                \
    "postgres://user:password@host:port/name, the port a number from 1 to 65535)"

Test(settings_checks, database_url_port_must_be_1_to_65535)
{
    cr_assert_str_eq(set_error("DATABASE_URL", "postgres://h:notaport/db"),
                     "DATABASE_URL: 'postgres://h:notaport/db' is not " ALLOWED);
    cr_assert_not_null(set_error("DATABASE_URL", "postgres://h:0/db"));
    cr_assert_not_null(set_error("DATABASE_URL", "postgres://h:65536/db"));
    cr_assert_not_null(set_error("DATABASE_URL", "postgres://h:-5/db"));
    cr_assert_not_null(set_error("DATABASE_URL", "postgresql://[::1]:99999/db"));
    cr_assert_not_null(set_error("DATABASE_URL", "pgsql://[::1]x/db"));
    cr_assert_null(set_error("DATABASE_URL", "postgres://h:5432/db"));
    cr_assert_null(set_error("DATABASE_URL", "postgres://h:65535/db"));
    cr_assert_null(set_error("DATABASE_URL", "postgres://h/db"));
    cr_assert_null(set_error("DATABASE_URL", "postgres://u:p@[::1]:5433/db"));
    cr_assert_null(set_error("DATABASE_URL", "postgres://u:p%40x@h:1/db?sslmode=require"));
    cr_assert_null(set_error("DATABASE_URL", "sqlite:///db.sqlite3"));
}

Test(settings_checks, database_url_error_masks_the_password)
{
    const char *e = set_error("DATABASE_URL", "postgres://app:s3cret@db.example:54x2/shop");
    cr_assert_str_eq(
        e, "DATABASE_URL: 'postgres://app:********@db.example:54x2/shop' is not " ALLOWED);
    cr_assert_null(strstr(e, "s3cret"));
}

Test(settings_checks, database_url_is_checked_at_load)
{
    setenv("DATABASE_URL", "postgres://u:pw@h:notaport/db", 1);
    cr_assert_neq(mn_settings_load(s, NULL), 0);
    cr_assert(strstr(mn_settings_error(s), "DATABASE_URL: 'postgres://u:********@h:notaport/db'"),
              "%s", mn_settings_error(s));
    unsetenv("DATABASE_URL");
}

Test(settings_checks, count_limits_take_none_as_django)
{
    cr_assert_null(set_error("DATA_UPLOAD_MAX_NUMBER_FIELDS", "None"));
    cr_assert_eq(mn_settings_int(s, "DATA_UPLOAD_MAX_NUMBER_FIELDS"), 0);
    cr_assert_null(set_error("DATA_UPLOAD_MAX_NUMBER_FILES", ""));
    cr_assert_eq(mn_settings_int(s, "DATA_UPLOAD_MAX_NUMBER_FILES"), 0);
    cr_assert_null(set_error("DATA_UPLOAD_MAX_NUMBER_FILES", "7"));
    cr_assert_eq(mn_settings_int(s, "DATA_UPLOAD_MAX_NUMBER_FILES"), 7);
    cr_assert_str_eq(set_error("DATA_UPLOAD_MAX_NUMBER_FIELDS", "-1"),
                     "DATA_UPLOAD_MAX_NUMBER_FIELDS: '-1' is not an integer >= 0, or None for no "
                     "limit");
}

Test(settings_checks, defaults_of_the_count_limits)
{
    cr_assert_eq(mn_settings_load(s, NULL), 0, "%s", mn_settings_error(s));
    cr_assert_eq(mn_settings_int(s, "DATA_UPLOAD_MAX_NUMBER_FIELDS"), 1000);
    cr_assert_eq(mn_settings_int(s, "DATA_UPLOAD_MAX_NUMBER_FILES"), 100);
}
