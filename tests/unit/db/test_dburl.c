/* test_dburl.c — DATABASE_URL parsing (DESIGN.md section 7), table-driven. */
#include <manouche/db.h>

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

typedef struct url_case {
    const char *url;
    mn_dbdialect dialect;
    const char *path, *user, *password, *host;
    int port;
    const char *name, *options;
} url_case;

static const url_case good[] = {
    {.url = "sqlite:///db.sqlite3", .dialect = MN_DIALECT_SQLITE, .path = "db.sqlite3"},
    {.url = "sqlite:///relative/dir/app.db",
     .dialect = MN_DIALECT_SQLITE,
     .path = "relative/dir/app.db"},
    {.url = "sqlite:////abs/path.db", .dialect = MN_DIALECT_SQLITE, .path = "/abs/path.db"},
    {.url = "sqlite://", .dialect = MN_DIALECT_SQLITE, .path = ":memory:"},
    {.url = "sqlite://:memory:", .dialect = MN_DIALECT_SQLITE, .path = ":memory:"},
    {.url = "sqlite:///my%20db.sqlite3", .dialect = MN_DIALECT_SQLITE, .path = "my db.sqlite3"},
    {.url = "postgres://user:pw@localhost:5433/app",
     .dialect = MN_DIALECT_POSTGRESQL,
     .user = "user",
     .password = "pw",
     .host = "localhost",
     .port = 5433,
     .name = "app"},
    {.url = "postgresql://u@db.example.com/shop?sslmode=require",
     .dialect = MN_DIALECT_POSTGRESQL,
     .user = "u",
     .host = "db.example.com",
     .name = "shop",
     .options = "sslmode=require"},
    {.url = "pgsql://u:p%40ss%3Aw@h/n",
     .dialect = MN_DIALECT_POSTGRESQL,
     .user = "u",
     .password = "p@ss:w",
     .host = "h",
     .name = "n"},
    {.url = "postgres://%2Fvar%2Frun%2Fpostgresql/app",
     .dialect = MN_DIALECT_POSTGRESQL,
     .host = "/var/run/postgresql",
     .name = "app"},
    {.url = "postgres://u:p@[::1]:5432/app",
     .dialect = MN_DIALECT_POSTGRESQL,
     .user = "u",
     .password = "p",
     .host = "::1",
     .port = 5432,
     .name = "app"},
    {.url = "postgres:///localdb", .dialect = MN_DIALECT_POSTGRESQL, .name = "localdb"},
};

static void check_str(const char *what, const char *url, const char *got, const char *want)
{
    if (!want)
        cr_expect_null(got, "%s: %s should be absent, got '%s'", url, what, got);
    else
        cr_expect(got && strcmp(got, want) == 0, "%s: %s is '%s', expected '%s'", url, what,
                  got ? got : "(null)", want);
}

Test(dburl, parses_the_dj_database_url_forms)
{
    mn_arena *a = mn_arena_new(0);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const url_case *c = &good[i];
        mn_dburl u;
        const char *why = NULL;
        cr_assert_eq(mn_dburl_parse(c->url, a, &u, &why), 0, "%s: %s", c->url, why);
        cr_expect_eq(u.dialect, c->dialect, "%s", c->url);
        check_str("path", c->url, u.path, c->path);
        check_str("user", c->url, u.user, c->user);
        check_str("password", c->url, u.password, c->password);
        check_str("host", c->url, u.host, c->host);
        check_str("name", c->url, u.name, c->name);
        check_str("options", c->url, u.options, c->options);
        cr_expect_eq(u.port, c->port, "%s: port %d", c->url, u.port);
    }
    mn_arena_free(a);
}

static const struct {
    const char *url, *why_part;
} bad[] = {
    {"", "empty"},
    {"db.sqlite3", "no scheme"},
    {"mysql://u@h/n", "unknown database URL scheme"},
    {"sqlite:/x.db", "sqlite://"},
    {"sqlite://host/x.db", "no host"},
    {"postgres://u@h:99999/n", "port"},
    {"postgres://u@h:abc/n", "port"},
    {"postgres://u@h", "names no database"},
    {"postgres://u:p%zz@h/n", "percent"},
    {"postgres://u:p%2@h/n", "percent"},
    {"postgres://[::1/n", "unclosed"},
};

Test(dburl, rejects_bad_urls_with_a_reason)
{
    mn_arena *a = mn_arena_new(0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn_dburl u;
        const char *why = NULL;
        cr_expect_eq(mn_dburl_parse(bad[i].url, a, &u, &why), MN_EINVAL, "'%s' accepted",
                     bad[i].url);
        cr_expect(why && strstr(why, bad[i].why_part), "'%s': reason '%s' lacks '%s'", bad[i].url,
                  why ? why : "(null)", bad[i].why_part);
    }
    mn_arena_free(a);
}

Test(dburl, no_url_means_db_sqlite3_and_the_alias_is_default)
{
    unsetenv("DATABASE_URL");
    char err[128];
    mn_db *db = mn_db_new(NULL, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_expect_str_eq(mn_db_alias(db), "default");
    cr_expect_eq(mn_db_dialect(db), MN_DIALECT_SQLITE);
    cr_expect_str_eq(mn_db_url(db)->path, "db.sqlite3");
    cr_expect_str_eq(mn_db_vendor(db), "sqlite");
    mn_db_free(db);
    setenv("DATABASE_URL", "sqlite:////tmp/from-env.db", 1);
    db = mn_db_new(&(mn_dbconfig){.alias = "replica"}, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_expect_str_eq(mn_db_url(db)->path, "/tmp/from-env.db");
    cr_expect_str_eq(mn_db_alias(db), "replica");
    mn_db_free(db);
    unsetenv("DATABASE_URL");
    cr_expect_null(mn_db_new(&(mn_dbconfig){.url = "oracle://x/y"}, err, sizeof err));
    cr_expect(strstr(err, "database 'default': unknown database URL scheme"), "%s", err);
}
