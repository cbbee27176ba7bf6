/* helper_db.c — see helper_db.h. */
#include "helper_db.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void use_schema(testdb *t, mn_orm *o)
{
    if (!t->schema[0])
        return;
    mn_dbconn *c = mn_orm_conn(o, NULL);
    cr_assert_not_null(c, "connect: %s", mn_orm_error(o));
    char sql[160];
    snprintf(sql, sizeof sql, "SET search_path TO \"%s\"", t->schema);
    int rc = mn_dbconn_exec_script(c, sql);
    cr_assert_eq(rc, 0, "%s: %s", sql, mn_dbconn_errmsg(c));
}

void tdb_open(testdb *t)
{
    memset(t, 0, sizeof *t);
    t->arena = mn_arena_new(0);
    cr_assert_not_null(t->arena);
    const char *url = getenv("MN_TEST_DATABASE_URL");
    char buf[300];
    mn_dbconfig cfg = {.alias = "default", .pool_size = 4};
    if (url && *url) {
        cfg.url = url;
        snprintf(t->schema, sizeof t->schema, "orm_t%ld_%d", (long)getpid(), rand() % 100000);
    } else {
        snprintf(t->dir, sizeof t->dir, "/tmp/mn-orm-XXXXXX");
        cr_assert_not_null(mkdtemp(t->dir));
        snprintf(buf, sizeof buf, "sqlite:///%s/test.db", t->dir);
        cfg.url = buf;
    }
    char err[256] = "";
    t->db = mn_db_new(&cfg, err, sizeof err);
    cr_assert_not_null(t->db, "mn_db_new: %s", err);
    t->o = mn_orm_new(t->arena, t->db);
    cr_assert_not_null(t->o);
    if (t->schema[0]) {
        mn_dbconn *c = mn_orm_conn(t->o, NULL);
        cr_assert_not_null(c, "connect: %s", mn_orm_error(t->o));
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", t->schema);
        cr_assert_eq(mn_dbconn_exec_script(c, sql), 0, "%s", mn_dbconn_errmsg(c));
        use_schema(t, t->o);
    }
    int rc = mn_orm_create_tables(t->o, false);
    cr_assert_eq(rc, 0, "create tables: %s", mn_orm_error(t->o));
}

mn_orm *tdb_session(testdb *t, mn_arena *arena)
{
    mn_orm *o = mn_orm_new(arena, t->db);
    cr_assert_not_null(o);
    use_schema(t, o);
    return o;
}

bool tdb_is_pg(const testdb *t)
{
    return t->schema[0] != '\0';
}

void tdb_close(testdb *t)
{
    if (t->schema[0]) {
        mn_orm_close(t->o); /* roll back whatever a failed test left open */
        mn_dbconn *c = mn_orm_conn(t->o, NULL);
        if (c) {
            char sql[160];
            snprintf(sql, sizeof sql, "DROP SCHEMA \"%s\" CASCADE", t->schema);
            mn_dbconn_exec_script(c, sql);
        }
    }
    mn_arena_free(t->arena); /* gives the connection back */
    mn_db_free(t->db);
    if (t->dir[0]) {
        char path[200];
        const char *files[] = {"test.db", "test.db-wal", "test.db-shm"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", t->dir, files[i]);
            unlink(path);
        }
        rmdir(t->dir);
    }
}

const char *tdb_repr(testdb *t, mn_value *v)
{
    mn_buf b;
    mn_buf_init(&b, t->arena);
    cr_assert_not_null(v, "%s", mn_orm_error(t->o));
    mn_value_write_repr(v, t->arena, &b);
    return mn_buf_cstr(&b);
}

const char *tdb_rows_repr(testdb *t, mn_qs *qs)
{
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(t->o));
    mn_value *l = mn_value_list(t->arena, rows->len);
    for (size_t i = 0; i < rows->len; i++)
        mn_value_list_append(t->arena, l, rows->items[i]);
    return tdb_repr(t, l);
}

void tdb_other_open(testdb *t, tdb_other *x)
{
    snprintf(x->dir, sizeof x->dir, "/tmp/mn-orm-other-XXXXXX");
    cr_assert_not_null(mkdtemp(x->dir));
    char url[128], err[256] = "";
    snprintf(url, sizeof url, "sqlite:///%s/other.db", x->dir);
    x->db =
        mn_db_new(&(mn_dbconfig){.alias = "other", .url = url, .pool_size = 2}, err, sizeof err);
    cr_assert_not_null(x->db, "%s", err);
    mn_arena *a = mn_arena_new(0);
    cr_assert_not_null(a);
    mn_orm *setup = mn_orm_new(a, x->db);
    cr_assert_eq(mn_orm_create_tables(setup, false), 0, "%s", mn_orm_error(setup));
    mn_orm_close(setup);
    mn_arena_free(a);
    cr_assert_eq(mn_orm_add_db(t->o, x->db), 0);
}

void tdb_other_close(tdb_other *x)
{
    mn_db_free(x->db);
    const char *files[] = {"other.db", "other.db-wal", "other.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", x->dir, files[i]);
        unlink(p);
    }
    rmdir(x->dir);
}
